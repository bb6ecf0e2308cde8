#pragma once
// Suites (docs/suites.md): a kvm-unit-tests-style unittests.cfg that names
// scenarios, run under a machine target (idt, fred, fred-nmisrc, or one of a
// targets file) with PASS, FAIL or SKIP per test, as kvm-unit-tests' run_tests.sh
// runs guest binaries under a VMM. This header gathers the suite layer; the
// `fredsim suite` command (tools/fredsim) is built on it.
//
// Bad input (a malformed cfg or targets file) is an Error "FILE:LINE: error: what
// is wrong"; nothing here throws.
#include "fredsim/suite/cfg.hpp"
#include "fredsim/suite/condition.hpp"
#include "fredsim/suite/report.hpp"
#include "fredsim/suite/run.hpp"
#include "fredsim/suite/targets.hpp"
