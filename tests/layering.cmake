cmake_minimum_required(VERSION 3.25)
# Naming rule: a layer's name is used four times: its folder src/<layer>/, its
# public headers include/fredsim/<layer>/, its namespace fredsim::<layer>, its
# CMake target fredsim_<layer> (and its test folder tests/<layer>/, test binary
# test_<layer>). Its umbrella header is include/fredsim/<layer>.hpp. The sim layer
# is the vocabulary every layer speaks (Cycle, CpuId, EventQueue, BitField,
# TimingProfile, Tracer, Result...): its types live in fredsim:: itself.
#
# Fails when a file of one layer includes a header of a layer it may not use, or
# when a public header includes a library that must stay private. The suite and
# the study both sit on the scenario layer and do not use each other. The command
# line (tools/) may include any layer, but no layer includes it.
set(order sim cpu apic vmx machine kernel system scenario suite study)
set(allowed_sim sim)
set(allowed_cpu sim cpu)
set(allowed_apic sim cpu apic)
set(allowed_vmx sim cpu vmx)
set(allowed_machine sim cpu apic vmx machine)
set(allowed_kernel sim cpu apic vmx machine kernel)
set(allowed_system sim cpu apic vmx machine kernel system)
set(allowed_scenario sim cpu apic vmx machine kernel system scenario)
set(allowed_suite ${allowed_scenario} suite)
set(allowed_study ${allowed_scenario} study)
set(allowed_tools ${order})
set(layer_re "sim|cpu|apic|vmx|machine|kernel|system|scenario|suite|study")
set(errors "")
foreach(layer IN LISTS order ITEMS tools)
  if(layer STREQUAL "tools")
    file(GLOB_RECURSE files ${ROOT}/tools/*.cpp ${ROOT}/tools/*.hpp)
  else()
    file(GLOB_RECURSE files ${ROOT}/src/${layer}/*.cpp ${ROOT}/src/${layer}/*.hpp
         ${ROOT}/include/fredsim/${layer}/*.hpp)
    if(EXISTS ${ROOT}/include/fredsim/${layer}.hpp)
      list(APPEND files ${ROOT}/include/fredsim/${layer}.hpp)
    endif()
  endif()
  foreach(f IN LISTS files)
    file(STRINGS ${f} lines REGEX "^#include [<\"](fredsim/)?(${layer_re})/")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^#include [<\"](fredsim/)?([a-z_]+)/.*" "\\2" target "${line}")
      if(NOT target IN_LIST allowed_${layer})
        string(APPEND errors "${f}: layer '${layer}' includes '${target}': ${line}\n")
      endif()
    endforeach()
    # A layer's umbrella, fredsim/<layer>.hpp, counts as a header of that layer.
    file(STRINGS ${f} umbrellas REGEX "^#include [<\"]fredsim/(${layer_re})\\.hpp")
    foreach(line IN LISTS umbrellas)
      string(REGEX REPLACE "^#include [<\"]fredsim/([a-z_]+)\\.hpp.*" "\\1" target "${line}")
      if(NOT target IN_LIST allowed_${layer})
        string(APPEND errors "${f}: layer '${layer}' includes the umbrella of '${target}': ${line}\n")
      endif()
    endforeach()
    if(NOT layer STREQUAL "tools")
      # The command line's headers live beside it: a layer that names one of them
      # (cli.hpp, outputs.hpp, ...) depends on the tool.
      file(STRINGS ${f} tool REGEX "^#include [<\"](tools/|fredsim/cli)")
      foreach(line IN LISTS tool)
        string(APPEND errors "${f}: layer '${layer}' includes the command line: ${line}\n")
      endforeach()
      # The library parses no command line and starts no process: both are the tool's.
      file(STRINGS ${f} tool_only REGEX "^#include [<\"](CLI/|spawn\\.h|sys/wait\\.h)")
      foreach(line IN LISTS tool_only)
        string(APPEND errors "${f}: the library includes what only the tool may: ${line}\n")
      endforeach()
    endif()
    if(f MATCHES "/include/fredsim/")
      file(STRINGS ${f} priv REGEX "^#include [<\"](spdlog|fmt|toml\\+\\+|nlohmann|boost|CLI)/")
      foreach(line IN LISTS priv)
        string(APPEND errors "${f}: public header includes a private dependency: ${line}\n")
      endforeach()
    endif()
  endforeach()
endforeach()
if(errors)
  message(FATAL_ERROR "layering violations:\n${errors}")
endif()
message(STATUS "layering: ok")
