"""Small input/output serializers per endpoint: inputs validate, services write,
outputs render. Nothing here saves."""
