# ctest docs.readme_example: README.md's library example (the ```cpp block after
# "A system built in code") must be tests/consumer/readme_example.cpp from its
# first #include on, which scripts/consumer-check.sh builds and runs.
file(READ "${ROOT}/README.md" readme)
file(READ "${ROOT}/tests/consumer/readme_example.cpp" example)
string(FIND "${example}" "#include <fredsim/fredsim.hpp>" start)
if(start LESS 0)
  message(FATAL_ERROR "tests/consumer/readme_example.cpp does not include <fredsim/fredsim.hpp>")
endif()
string(SUBSTRING "${example}" ${start} -1 example)
string(FIND "${readme}" "A system built in code" marker)
if(marker LESS 0)
  message(FATAL_ERROR "README.md has no \"A system built in code\" paragraph")
endif()
string(SUBSTRING "${readme}" ${marker} -1 rest)
string(FIND "${rest}" "```cpp\n" open)
if(open LESS 0)
  message(FATAL_ERROR "README.md: no ```cpp block after \"A system built in code\"")
endif()
math(EXPR open "${open} + 7")
string(SUBSTRING "${rest}" ${open} -1 rest)
string(FIND "${rest}" "```\n" close)
string(SUBSTRING "${rest}" 0 ${close} block)
if(NOT block STREQUAL example)
  message(FATAL_ERROR "README.md's library example differs from "
                      "tests/consumer/readme_example.cpp (from its first #include on): "
                      "copy the file's text into README.md")
endif()
message(STATUS "README.md shows tests/consumer/readme_example.cpp")
