"""`driftmgr demo`: a self-contained sandbox (a local AWS in moto, a Terraform working dir, planted drift and a
saved drift report) for trying driftmgr without touching a real cloud."""
