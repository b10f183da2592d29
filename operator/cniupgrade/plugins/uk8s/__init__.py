"""The UCloud UK8S cni-vpc profile: UK8S's CNI upgrade advice, checked and applied per node."""
