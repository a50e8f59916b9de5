"""The Celery configuration shared by the test worker (sampletasks) and its client (celery_harness)."""

import os


def celery_config(results_dir, broker_dir, serializer="json", compression="", extended=False, broker_transport=None):
    results_dir = os.path.abspath(results_dir)
    broker_dir = os.path.abspath(broker_dir)
    data = os.path.join(broker_dir, "data")
    accept = sorted({"json", serializer})
    return {
        "broker_url": "filesystem://",
        # e.g. "taskview.control.atomic_fs:Transport" (atomic message files)
        "broker_transport": broker_transport or None,
        "broker_transport_options": {
            "data_folder_in": data,
            "data_folder_out": data,
            "control_folder": os.path.join(broker_dir, "control"),
            "processed_folder": os.path.join(broker_dir, "processed"),
            "store_processed": True,
            "polling_interval": 0.1,
        },
        "broker_connection_retry_on_startup": True,
        "result_backend": "file://" + results_dir,
        "result_serializer": serializer,
        "result_compression": compression or None,
        "result_extended": bool(extended),
        "task_serializer": "json",
        "accept_content": accept,
        "result_accept_content": accept,
        "task_track_started": True,
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }
