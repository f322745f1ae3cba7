"""Client of the national population database (CSDL dân cư), on the SOAP template; contract in
``population_db.wsdl``/``population_db.xsd`` beside it."""
