# check_cli.cmake - one invocation of the socktab command.
#
#   -DSOCKTAB=path -DARGS="a;b;c" -DRC=N [-DOUT_RE=regex] [-DERR_RE=regex]
#   [-DIN=file (standard input)] [-DDIR=working directory]
#
# Checks the exit status, and that standard output / standard error match
# the regular expressions when given.
if(NOT DEFINED DIR)
  set(DIR ".")
endif()
if(DEFINED IN)
  execute_process(COMMAND "${SOCKTAB}" ${ARGS} INPUT_FILE "${IN}" WORKING_DIRECTORY "${DIR}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
else()
  execute_process(COMMAND "${SOCKTAB}" ${ARGS} WORKING_DIRECTORY "${DIR}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
endif()
if(NOT rc EQUAL RC)
  message(FATAL_ERROR "socktab ${ARGS}: exit status ${rc}, wanted ${RC}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED OUT_RE AND NOT out MATCHES "${OUT_RE}")
  message(FATAL_ERROR "socktab ${ARGS}: stdout does not match '${OUT_RE}':\n${out}")
endif()
if(DEFINED ERR_RE AND NOT err MATCHES "${ERR_RE}")
  message(FATAL_ERROR "socktab ${ARGS}: stderr does not match '${ERR_RE}':\n${err}")
endif()
