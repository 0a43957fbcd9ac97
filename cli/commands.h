// Subcommands of the one `shoal` binary. Each takes the arguments after its name
// and returns the process exit status; main() only dispatches.
#pragma once

#include <string>
#include <vector>

namespace shoal::cli {

using Args = std::vector<std::string>;

int origin_main(const Args& args);
int push_main(const Args& args);
int pull_main(const Args& args);
int tracker_main(const Args& args);
int peer_main(const Args& args);
int edge_main(const Args& args);
int up_main(const Args& args);
int hls_main(const Args& args);
int get_main(const Args& args);

}  // namespace shoal::cli
