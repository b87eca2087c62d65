"""The edge: the public HTTP face of the system (HTTP/JSON API from the protos, its OpenAPI
document; sign-in and the web pages come in later steps of issue #19)."""
