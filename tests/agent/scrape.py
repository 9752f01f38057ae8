#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fetches URL over HTTP and prints one JSON object: the status, the content type, the body, and,
when the content type is Prometheus' text format, the samples as prometheus_client's own parser
reads them ([name, labels, value] each) with the families' types. A body the parser refuses
makes the script fail (exit 1) with the parser's message."""
import json
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def main():
    status, content_type, body = fetch(sys.argv[1])
    result = {"status": status, "content_type": content_type, "body": body}
    if content_type.startswith("text/plain; version=0.0.4"):
        families = list(text_string_to_metric_families(body))
        result["types"] = {family.name: family.type for family in families}
        result["samples"] = [[s.name, s.labels, s.value] for family in families for s in family.samples]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
