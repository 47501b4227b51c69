#pragma once

#include "tocsin/common/clock.h"
#include "tocsin/dispatch/dispatcher.h"
#include "tocsin/http/router.h"

namespace tocsin::dispatch {

// Registers POST /api/v1/silences/preview (viewer: it changes nothing): the body is a silence
// as POST /api/v2/silences takes it, and the answer lists the current alerts its matchers
// match, as GET /api/v2/alerts shows them (at most 500; `total` counts all), so a silence can
// be checked before it is created. Matchers fail exactly as they would on create.
// `dispatcher` and `clock` must outlive the router.
void RegisterSilencePreviewApi(http::Router& router, const Dispatcher& dispatcher,
                               const Clock& clock);

}  // namespace tocsin::dispatch
