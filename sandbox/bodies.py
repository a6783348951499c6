"""Request body building blocks shared by the vendor routers."""

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    """Vendors reject unknown fields, as the real APIs they mimic do."""

    model_config = ConfigDict(extra="forbid")


class Line(Body):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)
