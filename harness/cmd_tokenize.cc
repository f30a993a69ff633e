#include "harness/commands.h"
namespace sb::cli {
void add_tokenize_command(CLI::App& app) {}
}
