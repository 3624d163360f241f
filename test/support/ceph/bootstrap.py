# Mon-side steps of the test S3 server's bring-up, in one librados session (the `ceph` CLI would
# pay Python start-up per command). Run with Debian's /usr/bin/python3, which has the rados module.
#   bootstrap.py <conf> prepare <osd-uuid>   register osd.0 and create RGW's pools up front
#   bootstrap.py <conf> wait-osd             return once osd.0 is up in the osdmap
import json
import sys
import time

import rados

RGW_POOLS = [".rgw.root", "default.rgw.control", "default.rgw.meta", "default.rgw.log",
             "default.rgw.buckets.index", "default.rgw.buckets.data", "default.rgw.buckets.non-ec"]


def command(cluster, **kw):
    ret, out, err = cluster.mon_command(json.dumps(kw), b"")
    if ret != 0:
        sys.exit(f"{kw['prefix']} failed: {err}")
    return out


def main():
    conf, action = sys.argv[1], sys.argv[2]
    cluster = rados.Rados(conffile=conf)
    cluster.connect(timeout=20)
    if action == "prepare":
        command(cluster, prefix="osd new", uuid=sys.argv[3], format="json")
        # RGW would create the last pools lazily, about a second each.
        for pool in RGW_POOLS:
            command(cluster, prefix="osd pool create", pool=pool, pg_num=8, pgp_num=8)
            command(cluster, prefix="osd pool application enable", pool=pool, app="rgw", yes_i_really_mean_it=True)
    elif action == "wait-osd":
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            dump = json.loads(command(cluster, prefix="osd dump", format="json"))
            if any(o["osd"] == 0 and o["up"] == 1 for o in dump["osds"]):
                return
            time.sleep(0.02)  # polling the osdmap; the mon offers no blocking wait for this
        sys.exit("osd.0 did not come up within 30s")
    else:
        sys.exit(f"unknown action {action}")


main()
