"""Population database simulator: a register generated to agree with the city system's generated
days (``registry``) served as a signed SOAP partner (``app``)."""
