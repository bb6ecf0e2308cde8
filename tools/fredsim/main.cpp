#include <cstdio>

int main() {
  std::puts("fredsim: the command line is not built yet");
  return 0;
}
