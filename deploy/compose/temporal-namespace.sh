#!/bin/sh
# The namespace o2c uses and the search attributes its workflows set (workflows/search_attributes.py,
# the same list the local dev server gets). Safe to run again: existing ones are left as they are.
set -eu
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" | grep -q SERVING; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS"; sleep 2
done
temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
for attribute in $SEARCH_ATTRIBUTES; do
  name="${attribute%%=*}"; type="${attribute##*=}"
  temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type" \
    || temporal operator search-attribute list --namespace "$NAMESPACE" | grep -qw "$name"
done
