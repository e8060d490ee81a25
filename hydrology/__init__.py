"""Water intelligence: surface-water classes by GB 3838-2002, rivers and their assessment sections."""
