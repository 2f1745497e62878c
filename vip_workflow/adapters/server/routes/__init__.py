"""The resources of ``/api/v1``: one router per module."""
