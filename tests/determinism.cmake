cmake_minimum_required(VERSION 3.25)
# Runs one scenario twice with every output and compares them byte for byte.
file(MAKE_DIRECTORY ${OUT})
foreach(i 1 2)
  execute_process(
    COMMAND ${FREDSIM} run ${SCENARIO} --trace=jsonl --trace-out ${OUT}/trace${i}.jsonl
            --json ${OUT}/result${i}.json --chrome-trace ${OUT}/chrome${i}.json
            --ftrace ${OUT}/ftrace${i}.txt --quiet
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "run ${i} failed with ${rc}")
  endif()
endforeach()
foreach(f trace result chrome ftrace)
  file(GLOB outs ${OUT}/${f}1.*)
  string(REPLACE "${f}1." "${f}2." other "${outs}")
  file(SHA256 ${outs} a)
  file(SHA256 ${other} b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "${f} differs between two runs of the same scenario")
  endif()
  file(SIZE ${outs} size)
  if(size EQUAL 0)
    message(FATAL_ERROR "${f} is empty")
  endif()
endforeach()
message(STATUS "deterministic: trace, result, chrome trace and ftrace identical")
