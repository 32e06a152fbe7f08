$result = {
  'data' => [],
  'result' => 'success'
};
