$result = {
  'data' => [
    {
      'token' => 'gcnaBcD12eFgH34iJkL'
    }
  ],
  'result' => 'success'
};
