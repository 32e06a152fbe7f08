$result = {
  'data' => 'slow_down_bucko',
  'reason' => 'jabber-*: 10 per hour',
  'result' => 'error'
};
