"""Client for the social-insurance system (SOAP; social_insurance.wsdl/.xsd beside it)."""
