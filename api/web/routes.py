"""(being written) Server-rendered pages for inspectors and case officers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
