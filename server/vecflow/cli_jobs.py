"""`vecflow jobs list|get|watch|cancel|restart`: the job commands, talking to a server over gRPC."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import grpc
from google.protobuf import json_format

from vecflow.v1 import job_pb2, job_service_pb2

EXIT_OK, EXIT_FAILED, EXIT_CANCELLED, EXIT_ERROR = 0, 1, 3, 2


def add_parser(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="list, inspect, watch, cancel and restart jobs")
    jobs.add_argument(
        "--address",
        default=os.environ.get("VECFLOW_ADDRESS", "127.0.0.1:50051"),
        help="server host:port (env VECFLOW_ADDRESS)",
    )
    jobs.add_argument("--api-key", default=os.environ.get("VECFLOW_API_KEY", ""), help="API key (env VECFLOW_API_KEY)")
    jobs.add_argument("--json", action="store_true", help="machine-readable output (one JSON object per line)")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    p = jsub.add_parser("list")
    p.add_argument("--status", choices=["pending", "running", "succeeded", "failed", "cancelled"])
    p.add_argument("--limit", type=int, default=20)
    for name in ("get", "cancel", "restart"):
        jsub.add_parser(name).add_argument("job_id")
    p = jsub.add_parser("watch", help="stream a job's history live until it ends (Ctrl-C stops watching only)")
    p.add_argument("job_id")
    p.add_argument("--after", type=int, default=0, help="resume after this sequence")


def _status(value: int) -> str:
    return job_pb2.JobStatus.Name(value).removeprefix("JOB_STATUS_").lower()


def _event_line(event: job_pb2.JobHistoryEvent) -> str:
    step_status = job_pb2.StepStatus.Name(event.status).removeprefix("STEP_STATUS_").lower()
    details = json_format.MessageToDict(event.details) if event.details.fields else {}
    took = f" {event.duration_ms} ms" if event.duration_ms else ""
    extra = " ".join(f"{k}={v}" for k, v in details.items())
    stamp = event.timestamp.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
    return f"{event.sequence:>5}  {stamp}  {event.step:<16} {step_status:<10}{took}  {extra}".rstrip()


def _exit_code(job: job_pb2.Job) -> int:
    return {job_pb2.JOB_STATUS_SUCCEEDED: EXIT_OK, job_pb2.JOB_STATUS_CANCELLED: EXIT_CANCELLED}.get(
        job.status, EXIT_FAILED
    )


async def run(args: argparse.Namespace) -> int:
    from vecflow_client import VecflowClient

    if not args.api_key:
        print("vecflow jobs: an API key is required (--api-key or VECFLOW_API_KEY)", file=sys.stderr)
        return EXIT_ERROR
    emit = (lambda m: print(json_format.MessageToJson(m, indent=None), flush=True)) if args.json else None
    async with VecflowClient(args.address, args.api_key) as client:
        try:
            if args.jobs_command == "list":
                status = job_pb2.JobStatus.Value(f"JOB_STATUS_{args.status.upper()}") if args.status else 0
                reply = await client.jobs.ListJobs(job_service_pb2.ListJobsRequest(page_size=args.limit, status=status))
                for job in reply.jobs:
                    if emit:
                        emit(job)
                    else:
                        operation = job_pb2.JobOperation.Name(job.operation).removeprefix("JOB_OPERATION_").lower()
                        print(f"{job.id}  {_status(job.status):<10} {operation:<12} {job.source_id}")
                return EXIT_OK
            if args.jobs_command in ("get", "cancel", "restart"):
                if args.jobs_command == "get":
                    job = (await client.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=args.job_id))).job
                elif args.jobs_command == "cancel":
                    job = (await client.jobs.CancelJob(job_service_pb2.CancelJobRequest(job_id=args.job_id))).job
                else:
                    job = (await client.jobs.RestartJob(job_service_pb2.RestartJobRequest(job_id=args.job_id))).job
                if emit:
                    emit(job)
                else:
                    print(f"{job.id}  {_status(job.status)}  attempt {job.attempt}")
                    if job.HasField("error"):
                        print(f"  error: {job.error.code}: {job.error.message}")
                    for event in job.history:
                        print(_event_line(event))
                return EXIT_OK
            # watch
            async for event in client.watch_job(args.job_id, after_sequence=args.after):
                if emit:
                    emit(event)
                else:
                    print(_event_line(event), flush=True)
            job = (await client.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=args.job_id))).job
            if not emit:
                print(f"job {job.id} {_status(job.status)}", flush=True)
                if job.HasField("error"):
                    print(f"  error: {job.error.code}: {job.error.message}", flush=True)
            return _exit_code(job)
        except grpc.aio.AioRpcError as err:
            print(f"vecflow jobs: {err.code().name}: {err.details()}", file=sys.stderr)
            return EXIT_ERROR


def main(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        print("stopped watching (the job goes on)", file=sys.stderr)
        return 130
