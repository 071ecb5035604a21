"""Operations: health and metrics, structured logs, latency."""
