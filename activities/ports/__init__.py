"""One typing.Protocol per vendor role with its canonical operations; adapters (activities/adapters/)
implement them. Ports import only canonical/ and activities/contracts/."""
