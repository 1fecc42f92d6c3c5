"""`torchdoctor bench`: is this device as fast as it should be? Measured per device, judged against the datasheet."""
