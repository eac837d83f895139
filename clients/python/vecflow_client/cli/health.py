"""`vecflow health`: ask a server's grpc.health.v1 service whether it is SERVING (a probe for containers).

Every role answers it on its gRPC port (a worker replica serves nothing else there), for the whole server
(service "", the default) and for each vecflow.v1 service by its full name. The address and API key come
from the shared options, environment and config file (see common.py); the key is sent when there is one,
though the server needs none for health. No retries: one call with a deadline of --timeout seconds.

Exit code: 0 SERVING; 1 any other status (NOT_SERVING while the server shuts down) or a service the server
does not know; 2 no answer (nothing listening, the deadline passed, no health service) or bad usage.
One line either way: the status on stdout, an error on stderr (a JSON object each with --json).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vecflow_client.cli.common import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    Session,
    add_command,
    fail,
    load_config,
)

DEFAULT_TIMEOUT_SECONDS = 5.0


def add_parser(sub: Any) -> None:
    p = add_command(
        sub,
        "health",
        help="check a server's gRPC health (exit 0 when SERVING); any role, no API key needed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--service",
        default="",
        metavar="NAME",
        help='a service\'s full name, e.g. vecflow.v1.JobService (default "": the whole server)',
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="S",
        help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )


def main(args: argparse.Namespace) -> int:
    session = Session(args=args, json=bool(getattr(args, "json", False)))
    try:
        session.config = load_config(args)
        if not args.timeout > 0:
            raise CliError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
        return check(session, args.service, args.timeout)
    except CliError as err:
        return fail(session, str(err))
    except KeyboardInterrupt:
        return fail(session, "interrupted", 130)


def check(session: Session, service: str, timeout: float) -> int:
    """One Check call; print its status (stdout) or why there is none (stderr); return the exit code."""
    address = session.config.address
    metadata = (("x-api-key", session.config.api_key),) if session.config.api_key else None
    what = f"service {service!r}" if service else "the server"
    with grpc.insecure_channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout, metadata=metadata
            )
        except grpc.RpcError as err:
            code: grpc.StatusCode = err.code()
            details = err.details() or ""
            if code == grpc.StatusCode.NOT_FOUND:
                return fail(session, f"{address} does not know {what}", EXIT_FAILED, status="SERVICE_UNKNOWN")
            if code == grpc.StatusCode.UNAVAILABLE:
                message = f"cannot reach the server at {address}: {details}"
            elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
                message = f"no health answer from {address} within {timeout:g} s"
            elif code == grpc.StatusCode.UNIMPLEMENTED:
                message = f"{address} serves no grpc.health.v1 service"
            else:
                message = f"health check of {address} failed: {code.name}: {details}"
            return fail(session, message, EXIT_ERROR, status=code.name)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    if session.json:
        session.emit({"address": address, "service": service, "status": status})
    else:
        sys.stdout.write(f"{address}{f' {service}' if service else ''}: {status}\n")
        sys.stdout.flush()
    return EXIT_OK if answer.status == health_pb2.HealthCheckResponse.SERVING else EXIT_FAILED
