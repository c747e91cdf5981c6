#pragma once
#include "base/unique_fd.hpp"

namespace berth::agent {
using UniqueFd = berth::UniqueFd;
}  // namespace berth::agent
