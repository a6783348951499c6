"""An operation of a vendor role as the workflows see it: a name, what goes in and what comes out.

Activities register under `name`; workflows call by name with `output` as the result type, so the
workflow layer knows the contract and never imports the adapter that speaks to the vendor.
"""

from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


@dataclass(frozen=True)
class Operation(Generic[In, Out]):
    name: str
    input: type[In]
    output: type[Out]
