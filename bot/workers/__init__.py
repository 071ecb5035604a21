"""Long-running loops: the inbox processor, department delivery, the scheduler, leadership."""
