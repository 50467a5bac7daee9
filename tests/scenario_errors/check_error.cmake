# check_error.cmake - one bad-input scenario: `socktab run FILE` must exit 2,
# print nothing on standard output (a malformed file runs nothing) unless the
# file is a world-error case (its error happens while running), and its first
# line on standard error must be exactly the sidecar FILE.err.
#
#   cmake -DSOCKTAB=... -DDIR=... -DNAME=foo -P check_error.cmake
execute_process(COMMAND "${SOCKTAB}" run "${NAME}.scn"
  WORKING_DIRECTORY "${DIR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(READ "${DIR}/${NAME}.err" want)
string(REGEX REPLACE "\n$" "" want "${want}")
string(FIND "${err}" "\n" nl)
if(nl GREATER -1)
  string(SUBSTRING "${err}" 0 ${nl} first)
else()
  set(first "${err}")
endif()
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "${NAME}.scn: exit status ${rc}, wanted 2\nstderr:\n${err}")
endif()
if(NOT first STREQUAL want)
  message(FATAL_ERROR "${NAME}.scn: first stderr line differs\nwanted: ${want}\n   got: ${first}")
endif()
if(NOT NAME MATCHES "^world-error" AND NOT out STREQUAL "")
  message(FATAL_ERROR "${NAME}.scn: a malformed file printed a transcript:\n${out}")
endif()
