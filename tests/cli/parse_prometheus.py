#!/usr/bin/env python3
# Parses Prometheus text exposition format from stdin with Prometheus' own Python parser
# (Debian's python3-prometheus-client) and prints what it understood as JSON, for the C++ tests:
# [{"name": family, "type": "gauge", "samples": [{"name": ..., "labels": {...}, "value": ...}]}].
# Text the parser refuses makes it exit with status 1 and the parser's message on stderr.
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def value(number):
    # JSON has no infinity; none of our samples should be one, but say so rather than crash.
    return str(number) if math.isinf(number) or math.isnan(number) else number


try:
    families = [
        {
            "name": family.name,
            "type": family.type,
            "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": value(s.value)} for s in family.samples],
        }
        for family in text_string_to_metric_families(sys.stdin.read())
    ]
except Exception as error:  # the parser raises ValueError and others for bad text
    print(f"parse_prometheus: {type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
json.dump(families, sys.stdout)
