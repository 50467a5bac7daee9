# Run by ctest as `cmake -P` (test "install_pkgconfig").  Inputs (-D):
#   BUILD_DIR       the build tree to install
#   WORK_DIR        scratch directory (wiped first)
#   CONSUMER        tests/pkgconfig/consumer.c
#   CC              C compiler
#   EXTRA_FLAGS     space-separated flags for compile and link (sanitizers)
#   PKG_CONFIG      pkg-config executable
#   LIBDIR          CMAKE_INSTALL_LIBDIR, relative to the prefix
#   EXPECT_VERSION  what `pkg-config --modversion socktab` must print
cmake_minimum_required(VERSION 3.16)

foreach(v BUILD_DIR WORK_DIR CONSUMER CC PKG_CONFIG LIBDIR EXPECT_VERSION)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "install_and_consume.cmake: -D${v}=... is required")
  endif()
endforeach()

function(run)
  # run(<what> COMMAND ...) - echo, run, fail loudly.
  cmake_parse_arguments(R "" "" "COMMAND" ${ARGN})
  string(REPLACE ";" " " shown "${R_COMMAND}")
  message("+ ${shown}")
  execute_process(COMMAND ${R_COMMAND}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT out STREQUAL "")
    message("${out}")
  endif()
  if(NOT err STREQUAL "")
    message("${err}")
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGV0} failed (exit ${rc})")
  endif()
endfunction()

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. Install.
run("install" COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")

foreach(f "${prefix}/include/socktab/socktab.h" "${prefix}/${LIBDIR}/pkgconfig/socktab.pc"
          "${prefix}/${LIBDIR}/libsocktab.a")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()

# 2. Ask pkg-config, as a user of the installed tree would.
set(ENV{PKG_CONFIG_PATH} "${prefix}/${LIBDIR}/pkgconfig")
unset(ENV{PKG_CONFIG_LIBDIR})
unset(ENV{PKG_CONFIG_SYSROOT_DIR})

function(pkgconfig out)
  execute_process(COMMAND "${PKG_CONFIG}" ${ARGN} socktab
    RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config ${ARGN} socktab failed: ${e}")
  endif()
  string(REPLACE ";" " " shown "${ARGN}")
  message("pkg-config ${shown} socktab -> ${o}")
  set(${out} "${o}" PARENT_SCOPE)
endfunction()

pkgconfig(version --modversion)
if(NOT version STREQUAL EXPECT_VERSION)
  message(FATAL_ERROR "socktab.pc says version '${version}', expected '${EXPECT_VERSION}'")
endif()
pkgconfig(cflags --cflags)
pkgconfig(libs --libs)
pkgconfig(libdir --variable=libdir)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
separate_arguments(libs UNIX_COMMAND "${libs}")
separate_arguments(extra UNIX_COMMAND "${EXTRA_FLAGS}")

# Strict C11 without _GNU_SOURCE: the public headers must stand on their own.
set(strict -std=c11 -Wall -Wextra -Wstrict-prototypes -Werror)

# 3a. Against the shared library, found at run time through an rpath.
set(exe_shared "${WORK_DIR}/consumer-shared")
run("compile (shared)" COMMAND "${CC}" ${strict} ${extra} ${cflags}
    "${CONSUMER}" -o "${exe_shared}" ${libs} "-Wl,-rpath,${libdir}")
run("run (shared)" COMMAND "${exe_shared}")

# 3b. Against the static library (the same -L, -lsocktab forced static).
set(exe_static "${WORK_DIR}/consumer-static")
pkgconfig(libs_static --libs --static)
separate_arguments(libs_static UNIX_COMMAND "${libs_static}")
list(TRANSFORM libs_static REPLACE "^-lsocktab$" "-l:libsocktab.a")
run("compile (static)" COMMAND "${CC}" ${strict} ${extra} ${cflags}
    "${CONSUMER}" -o "${exe_static}" ${libs_static})
run("run (static)" COMMAND "${exe_static}")

message("install_pkgconfig: OK")
