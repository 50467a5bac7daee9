# FindCMocka
# ----------
# Finds the cmocka unit-testing library and defines the imported target
#   CMocka::cmocka
# and the variables CMocka_FOUND, CMocka_VERSION (when pkg-config knows it).
#
# pkg-config's module "cmocka" is tried first (Debian: libcmocka-dev ships
# cmocka.pc); otherwise find_path/find_library look for cmocka.h and
# libcmocka directly (set CMOCKA_ROOT or CMAKE_PREFIX_PATH to help them).

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_CMOCKA QUIET cmocka)
endif()

find_path(CMOCKA_INCLUDE_DIR
  NAMES cmocka.h
  HINTS ${PC_CMOCKA_INCLUDEDIR} ${PC_CMOCKA_INCLUDE_DIRS})
find_library(CMOCKA_LIBRARY
  NAMES cmocka
  HINTS ${PC_CMOCKA_LIBDIR} ${PC_CMOCKA_LIBRARY_DIRS})

if(PC_CMOCKA_VERSION)
  set(CMocka_VERSION "${PC_CMOCKA_VERSION}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CMocka
  REQUIRED_VARS CMOCKA_LIBRARY CMOCKA_INCLUDE_DIR
  VERSION_VAR CMocka_VERSION)

if(CMocka_FOUND AND NOT TARGET CMocka::cmocka)
  add_library(CMocka::cmocka UNKNOWN IMPORTED)
  set_target_properties(CMocka::cmocka PROPERTIES
    IMPORTED_LOCATION "${CMOCKA_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CMOCKA_INCLUDE_DIR}")
  if(PC_CMOCKA_CFLAGS_OTHER)
    set_target_properties(CMocka::cmocka PROPERTIES
      INTERFACE_COMPILE_OPTIONS "${PC_CMOCKA_CFLAGS_OTHER}")
  endif()
endif()

mark_as_advanced(CMOCKA_INCLUDE_DIR CMOCKA_LIBRARY)
