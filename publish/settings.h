// What every `shoal hls` publication is told: the package name and the ladder.
#pragma once

#include <string>
#include <vector>

#include "publish/ladder.h"

namespace shoal::publish {

struct Settings {
  std::string name;  // NAME of hls/NAME
  std::vector<Rung> ladder;
  double segment_seconds = 4;
};

}  // namespace shoal::publish
