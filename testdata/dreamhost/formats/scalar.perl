$result = {
  'data' => 'record_added',
  'result' => 'success'
};
