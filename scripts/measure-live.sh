#!/usr/bin/env bash
# Live-cycle timings: serves a recording from a verifying fleet, runs N signed cycles against it,
# prints each run's timings and peak RSS.
#
# usage: scripts/measure-live.sh FIXTURE TIME_SCALE TIMEOUT_S RUNS [WALLETS_DIR WALLET_NAME]
#   e.g. scripts/measure-live.sh fixtures/large/hf-90mb.cycle.arrow 1.5 11 5
# Without a wallet, the throwaway validator hotkey from ../shared/wire-samples is used.
# SYNTH_FORWARD_RUN_ARGS: more arguments to each `run` (e.g. "--postgres postgresql://…").
set -euo pipefail
cd "$(dirname "$0")/.."
# SYNTH_FORWARD_BIN: measure another build (e.g. the previous release, side by side).
if [ -z "${SYNTH_FORWARD_BIN:-}" ]; then cargo build --release --quiet; fi
BIN=${SYNTH_FORWARD_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/synth-forward}
fx=$1; scale=$2; timeout=$3; runs=$4
d=$(mktemp -d)
if [ $# -ge 6 ]; then wallets=$5; name=$6; else
  wallets=$d/wallets; name=validator
  mkdir -p $wallets/validator/hotkeys
  cp ../shared/wire-samples/wallet/validator-hotkey.json $wallets/validator/hotkeys/default
  chmod 600 $wallets/validator/hotkeys/default
fi
$BIN serve "$fx" --time-scale "$scale" --verify --request-out $d/r.json 2>/dev/null & fleet=$!
trap "kill $fleet 2>/dev/null; rm -rf $d" EXIT
while [ ! -f $d/r.json ]; do sleep 0.1; done
python3 -c "import json; r=json.load(open('$d/r.json')); r['timeout_s']=float('$timeout'); json.dump(r,open('$d/r.json','w'))"
for i in $(seq "$runs"); do
  /usr/bin/time -f "rss_kb=%M wall_s=%e" $BIN run --request $d/r.json --out $d/out --overwrite \
    --wallet.path "$wallets" --wallet.name "$name" ${SYNTH_FORWARD_RUN_ARGS:-} 2>&1 | python3 -c "
import sys, json
for l in sys.stdin:
    l = l.strip()
    if l.startswith('{'):
        d = json.loads(l)
        print({k: round(v, 1) for k, v in d['timings_ms'].items()}, 'decoded_before_last_body=', d.get('decoded_before_last_body'))
        if 'postgres' in d:
            p = d['postgres']
            print('  postgres', {k: p[k] for k in ('rows', 'attempts', 'timings_ms')})
        if d.get('sink_errors'):
            print('  sink_errors', d['sink_errors'])
    elif l.startswith('rss'):
        print(l)"
done
