$result = {
  'data' => 'invalid_api_key',
  'reason' => 'The API key you provided does not exist.',
  'result' => 'error'
};
