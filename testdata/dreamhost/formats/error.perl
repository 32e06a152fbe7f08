$result = {
  'data' => 'user_exists',
  'result' => 'error'
};
