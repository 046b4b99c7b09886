"""The ingress server: hosts the connector plugins' webhook routes and owns the Kafka producer."""
