"""Client for the Ministry of Justice civil-status system (SOAP; civil_status.wsdl/.xsd beside it)."""
