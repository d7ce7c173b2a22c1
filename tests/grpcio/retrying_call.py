"""One `demo.Tickets/Issue` call from grpcio with the standard gRFC A6 retry policy.

Usage: retrying_call.py <host:port> <deadline seconds>

Prints `calling` just before the call starts, then one line when it ends:
`<status code name> <seconds the call took>`, e.g. `OK 1.003` or `UNAVAILABLE 4.021`.
The example has no .proto, so the one-string messages are encoded by hand.
"""

import json
import sys
import time

import grpc

RETRY_POLICY = {
    "methodConfig": [
        {
            "name": [{"service": "demo.Tickets"}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.1s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}


def string_field(value: str) -> bytes:
    """`message { string field = 1; }`: tag 1, wire type 2, length, bytes."""
    data = value.encode()
    assert len(data) < 128, "one length byte"
    return b"\x0a" + bytes([len(data)]) + data


def main() -> None:
    target, deadline = sys.argv[1], float(sys.argv[2])
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", json.dumps(RETRY_POLICY)),
        ],
    )
    issue = channel.unary_unary(
        "/demo.Tickets/Issue",
        request_serializer=string_field,
        response_deserializer=lambda reply: reply,
    )
    print("calling", flush=True)
    started = time.monotonic()
    try:
        issue("ada", timeout=deadline)
        code = grpc.StatusCode.OK
    except grpc.RpcError as err:
        code = err.code()
    print(f"{code.name} {time.monotonic() - started:.3f}", flush=True)


if __name__ == "__main__":
    main()
