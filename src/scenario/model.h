/*
 * src/scenario/model.h - the model backend (model.c): scenarios run on the
 * simulated world, over the stack and the core tables.
 */
#ifndef SOCKTAB_SCENARIO_MODEL_H
#define SOCKTAB_SCENARIO_MODEL_H

#include <stddef.h>

#include "scenario/backend.h"
#include "socktab/net.h"

/* NULL with a message when the world cannot be created (or --pcap cannot
 * be written).  The world starts with host `local`. */
sc_backend *sc_model_new(const sc_backend_config *cfg, char *msg, size_t msglen);

/* The tables of a host of a model backend (for tests that check their
 * invariants with st_net_check), or NULL when there is no such host. */
st_net *sc_model_host_net(sc_backend *b, const char *host);

/* st_sockaddr -> sc_sockaddr, naming the scope by its device in `net`. */
void sc_sockaddr_from_net(st_net *net, const st_sockaddr *sa, sc_sockaddr *out);

#endif
