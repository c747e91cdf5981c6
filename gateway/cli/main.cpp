// berth: the command-line client of berth-gateway (README.md, "A 30-second tour of the CLI").
#include "gateway/cli/commands.hpp"

int main(int argc, char** argv) {
  return berth::gateway::cli::main(argc, argv);
}
