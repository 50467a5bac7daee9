# socktab_check_header_version(<header>)
#
# include/socktab/socktab.h carries SOCKTAB_VERSION_MAJOR/MINOR/PATCH by
# hand (it is installed as is, not generated).  This stops the configure
# step when those macros and project(VERSION) disagree, so a release can
# never ship a header that names another version than its library.
function(socktab_check_header_version header)
  file(STRINGS "${header}" _lines
       REGEX "^#define[ \t]+SOCKTAB_VERSION_(MAJOR|MINOR|PATCH)[ \t]+[0-9]+")
  foreach(part MAJOR MINOR PATCH)
    set(_v "")
    foreach(line IN LISTS _lines)
      if(line MATCHES "^#define[ \t]+SOCKTAB_VERSION_${part}[ \t]+([0-9]+)")
        set(_v "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    if(_v STREQUAL "")
      message(FATAL_ERROR "socktab: ${header} does not define SOCKTAB_VERSION_${part}")
    endif()
    set(_hdr_${part} "${_v}")
  endforeach()
  set(_hdr "${_hdr_MAJOR}.${_hdr_MINOR}.${_hdr_PATCH}")
  if(NOT _hdr VERSION_EQUAL PROJECT_VERSION)
    message(FATAL_ERROR "socktab: ${header} says version ${_hdr} but "
                        "project() says ${PROJECT_VERSION}; update one of them")
  endif()
endfunction()
