# check_scenario.cmake - one scenario of tests/scenarios on the model:
#   1. `socktab run FILE` exits 0 (every expectation held);
#   2. `socktab run --json FILE` is valid JSON Lines (python3 -m json.tool
#      --json-lines, when PYTHON is set) and ends with a summary of status 0;
#   3. `socktab run --annotate FILE` gives a file that parses and passes too.
#
#   cmake -DSOCKTAB=... -DFILE=... -DWORK=dir [-DPYTHON=python3] -P check_scenario.cmake
execute_process(COMMAND "${SOCKTAB}" run "${FILE}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FILE}: exit status ${rc}\n${out}\n${err}")
endif()

if(PYTHON)
  execute_process(COMMAND "${SOCKTAB}" run --json --explain "${FILE}"
    COMMAND "${PYTHON}" -m json.tool --json-lines
    RESULTS_VARIABLE rcs OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rcs STREQUAL "0;0")
    message(FATAL_ERROR "${FILE}: --json is not valid JSON Lines (exit statuses ${rcs})\n${err}")
  endif()
endif()
execute_process(COMMAND "${SOCKTAB}" run --json "${FILE}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT out MATCHES "\\{\"summary\":true,[^\n]*\"status\":0\\}\n$")
  message(FATAL_ERROR "${FILE}: --json has no final summary with status 0:\n${out}")
endif()

get_filename_component(name "${FILE}" NAME)
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND "${SOCKTAB}" run --annotate "${FILE}"
  RESULT_VARIABLE rc OUTPUT_FILE "${WORK}/${name}" ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FILE}: --annotate failed (${rc})\n${err}")
endif()
execute_process(COMMAND "${SOCKTAB}" run "${WORK}/${name}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FILE}: the annotated file does not pass (${rc})\n${out}\n${err}")
endif()
