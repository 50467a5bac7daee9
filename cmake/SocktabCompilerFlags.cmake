# Compiler flags shared by every target in the tree: the library, the unit
# tests, the benchmarks and the examples.  Included once from the top-level
# CMakeLists.txt, before any target is created, so that add_compile_options
# and add_link_options reach all of them.

# The core uses a few glibc extensions; tests and tools get the same view of
# the system headers as the library they link.
add_compile_definitions(_GNU_SOURCE)

if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  add_compile_options(
    -Wall
    -Wextra
    -Wshadow
    -Wstrict-prototypes
    -Wmissing-prototypes)
  if(SOCKTAB_WERROR)
    add_compile_options(-Werror)
  endif()
elseif(SOCKTAB_WERROR OR SOCKTAB_SANITIZE)
  message(WARNING "socktab: SOCKTAB_WERROR/SOCKTAB_SANITIZE know only GCC and Clang flags; "
                  "${CMAKE_C_COMPILER_ID} gets no extra flags")
endif()

if(SOCKTAB_SANITIZE)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "socktab: SOCKTAB_SANITIZE=ON needs GCC or Clang")
  endif()
  set(SOCKTAB_SANITIZE_FLAGS
      -fsanitize=address,undefined
      -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
  add_compile_options(${SOCKTAB_SANITIZE_FLAGS})
  add_link_options(${SOCKTAB_SANITIZE_FLAGS})
else()
  set(SOCKTAB_SANITIZE_FLAGS "")
endif()
