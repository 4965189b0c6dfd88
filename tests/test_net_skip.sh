#!/bin/sh
# test_net_skip.sh: stands for the network tests when libcfutures-net is not
# built, and says why (configure's reason).
echo "SKIP: libcfutures-net is not built: ${CF_NET_REASON:-unknown reason}"
exit 77
