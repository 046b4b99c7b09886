"""The outbound delivery process: omniroute.outbound.v1 → provider APIs → omniroute.delivery.v1."""
