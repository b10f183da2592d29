"""`make demo`: a local cluster, a simulated CNI install, and an upgrade shown live."""
